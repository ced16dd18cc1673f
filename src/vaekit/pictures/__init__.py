"""What a model shows: `generation` (numpy arrays out), `plots` and `figures` (PNG files from
arrays, never from models), `report` (one HTML page)."""
