"""Live Bokeh dashboards, served by `viewfinder dashboard`, reading PostgreSQL."""
