"""Pure functions of audio and text, and model wrappers loaded once per process."""
