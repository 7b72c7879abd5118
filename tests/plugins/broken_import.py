"""A plugin that cannot even be imported."""

raise ImportError("this plugin is broken on purpose")
