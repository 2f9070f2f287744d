"""The web app (`aved ui`)."""
