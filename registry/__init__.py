"""The checkpoint registry: records, lineage and a content-addressed checkpoint store."""
