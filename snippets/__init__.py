"""Every piece of code the chapter shows, as named regions (pymdownx.snippets sections).

Each region is self-contained (its own imports and seed), so a reader can copy any one
block from the page and run it as shown; the build engine runs them in page order.
"""
