"""The `docent` command line (`pipelines.cli.main`), one module per command group."""
