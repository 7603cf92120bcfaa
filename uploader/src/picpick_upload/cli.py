"""The command line: login, push, status, watch."""

from __future__ import annotations

import click

from picpick_upload import __version__


@click.group()
@click.version_option(__version__, prog_name="picpick-upload")
def main() -> None:
    """Upload a folder of photos to a PicPick gallery; run it again to resume."""
