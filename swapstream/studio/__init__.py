"""`swapstream studio`: a local web page to watch and steer a live swap (see commands/studio.py).

app.py (the Starlette app and its token gate), session.py (the running pipeline and its state),
preview.py (JPEG encoding on its own thread, newest frame only), recorder.py (the sink that
starts and stops recordings), models.py (the models folder), sources.py (looping file sources);
static/ holds the page (HTML, JS, CSS), served from the package, nothing from the internet.
"""
