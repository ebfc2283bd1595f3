"""Photos and files attached to a case (a photo of an injury texted in, a unit's photo from
the scene): sealed at rest like recordings, hashed on arrival, every view audited."""
