"""Sources: the project's settings, the page parser, regions and the content key."""
