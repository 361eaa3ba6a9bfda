"""What came of contacts: delivery, replies, call results, returns to the shop."""
