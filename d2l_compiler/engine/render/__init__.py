"""Render: the record into Markdown (outputs, tokens, stamps), the report and the notebook."""
