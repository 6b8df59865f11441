"""The staff desk: the queue, tip handling, alerts, export, retention."""
