"""The living demo county of `sanke serve --demo`: seed.py (once), live.py (each start), bots.py (the media bots)."""
