"""Publish: the MkDocs plugin ``d2l`` and the safe replacement of the site directory."""
