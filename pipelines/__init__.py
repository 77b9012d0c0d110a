"""Query pipelines, the configuration model and loader, and the entry points."""
