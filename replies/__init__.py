"""Ready replies: short texts an officer sends in one tap, in Urdu and English."""
