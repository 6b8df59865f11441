"""Print-ready posters: layouts as data, a reportlab renderer that never imports Flask."""
