"""The executed-docs engine: run the regions that pages include, record what they did,
render the record into pages. It knows regions, pages, keys, runs, records and rendering;
what a book adds (tokens, derived files) comes in through :mod:`.render.tokens`.

The subpackages are the stages, in the order data flows through them::

    sources/   what a book is made of: project settings, page parser, regions, content key
    run/       running a page's regions in a fresh, supervised process; choosing the device
    record/    the typed record, its store, its JSON file, and the freshness rule
    render/    record -> Markdown: outputs, tokens (the extension point), report, notebook
    publish/   the site: the MkDocs plugin ``d2l``, the site directory and its swap

``build.py`` drives them (``python -m d2l_compiler build``). Nothing here imports torch.
"""
