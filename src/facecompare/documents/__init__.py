"""Identity documents: the evidence that an image is a card or passport page, its portrait."""
