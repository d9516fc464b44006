"""ConvNet Playground's live dashboard: a Panel server app on top of engine and datasets.

    python -m app [--data PATH] [--port 5006] [--show]

Where things live (importing `app` itself imports nothing):
    app.core        the Panel-free core: Runner (the one training thread of a process and its
                    commands), its reading side, history, the probe, and the functions that turn
                    the net's state into arrays and HTML; the static site's worker runs it too
    app.plots       the dashboard's Bokeh figures (app.teaching.teaching_plots: the teaching ones)
    app.state       DashboardState, a session's param state
    app.dashboard   Dashboard / create_app (the page), over app.views and app.teaching's views
    app.lecture, app.relay, app.presenter   lecture mode: roles, the viewers' process, the layout
"""
