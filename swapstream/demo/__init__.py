"""`swapstream demo`'s parts: the public-domain driving clips (media.py), the results page
(page.py) and the models that ship in swapstream/assets (shipped_models.py)."""
