"""The PicPick desktop uploader: talks to the service only through its public API."""

__version__ = "0.1.0"
