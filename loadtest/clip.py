"""The numbered test clip now lives with the product's demo bots (web/demo/clip.py); loadtest imports it there."""

from web.demo.clip import VIDEO_TIME_BASE, Clip, build, load, pattern, read_number

__all__ = ["VIDEO_TIME_BASE", "Clip", "build", "load", "pattern", "read_number"]
