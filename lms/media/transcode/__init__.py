"""ffmpeg and ffprobe: find them (``tools``), probe and validate an upload (``probe``), plan the
HLS ladder and build the command lines (``ladder``), run them (``run``). Dependencies run one way:
``run -> ladder -> probe -> tools``. Generated sample clips are demo content (``lms.media.demo``).
"""
