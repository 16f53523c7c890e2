"""Writers of everything a run publishes: run folders, CF NetCDF, styled GeoPackage, GeoParquet, CSV, COG, maps and
reports. Consumes results; never imports the run."""
