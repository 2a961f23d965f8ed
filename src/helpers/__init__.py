"""Shared helpers for the Minnesota 287(g) reproduction package.

One module per job (see README, "Layout"):

- ``paths``      repository-rooted paths; nothing else builds ``../..`` paths
- ``data``       raw-data registry and verified fetch (pooch, sha256)
- ``claims``     claims registry, the recorder notebooks call, the report
- ``plotting``   one figure style and byte-stable PNG output
- ``text``       grammar that follows the number; closing sentences rendered as Markdown
- ``notebooks``  run notebooks with papermill and scrub volatile metadata
- ``geo``        states, territories and Census counties; county matching
- ``sheets``     ICE 287(g) sheets as files: names, catalogue, as-of selection, reading a workbook
- ``ice``        ICE 287(g) sheets as a tidy table: normalisation, counting units
"""

__all__ = ["paths", "data", "claims", "plotting", "text", "notebooks", "geo", "sheets", "ice"]
