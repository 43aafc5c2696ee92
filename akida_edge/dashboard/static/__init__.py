"""Static files of the dashboard page (a package so that setuptools ships them as package data)."""
