"""The office's figures (the /statistics API): read only, over the requests' tables."""
