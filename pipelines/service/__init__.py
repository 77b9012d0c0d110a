"""`docent serve` and `docent mcp`: the HTTP service (`app` mounts the route modules `answers`
and `documents` over the `Service` in `core`), its stores (API keys, sessions, ingest jobs, the
document library), desks and metrics, and the MCP server."""
