"""What the dealer's DMS exports, and what revisit derives from it: importing, phone numbers,
the per-vehicle visit summary and the dealership overview."""
