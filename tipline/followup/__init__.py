"""The anonymous follow-up: a traveler with a receipt code reads replies and adds information;
staff reply from the tip page. Messages and photos are sealed at rest (tipline.sealing)."""
