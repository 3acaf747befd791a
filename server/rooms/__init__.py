"""Regions (the territorial tree), rooms (协商议事室) and their QR codes (一室一码)."""
