"""Missing and found children: reports, matching, alerts and reunification."""
