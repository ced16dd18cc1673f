"""What a model shows: `generation` (numpy arrays out), `plots` and `figures` (PNG files from
arrays, never from models), `outputs` (generated data in the user's own form: an image grid, or
sentences), `report` (one HTML page)."""
