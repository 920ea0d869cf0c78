"""ffmpeg and ffprobe: find them (``tools``), probe and validate an upload (``probe``), plan the
HLS ladder and build the command lines (``ladder``), run them (``run``); ``samples`` makes
generated clips for the demo and the tests. Dependencies run one way:
``samples -> run -> ladder -> probe -> tools``.
"""
