"""What a model shows: `generation` (numpy arrays out), `plots` and `figures` (PNG files from
arrays, never from models), `outputs` (generated data in the user's own form: an image grid, or
sentences), `tables` (CSV / Parquet tables and embeddings), `report` (one HTML page)."""
