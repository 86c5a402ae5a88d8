"""The build engine: run the regions that pages include, record what they did.

Data flows one way: snippets -> runner -> record -> MkDocs hook. The hook only reads the
record; nothing in this package imports torch.
"""
