"""Reading, writing and preparing media: clips, frame grids, the audio front end."""
