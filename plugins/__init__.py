"""recgraft's built-in plugins: ordinary plugins that use only the public plugin API."""
