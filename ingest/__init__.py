"""Ingestion: find source files, parse, chunk, embed and write them to the vector store."""
