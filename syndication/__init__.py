"""Newsletter and syndication service for newsrooms that publish under Creative Commons."""

__version__ = "0.1.0"
