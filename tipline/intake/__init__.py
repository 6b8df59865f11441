"""The traveler's side: the form behind each poster, tip submission, receipts."""
