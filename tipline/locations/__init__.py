"""Stations, trains and trips from GTFS; placements (posters) and their codes."""
