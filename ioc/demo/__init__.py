"""The demo city: Thành phố Thái Nguyên (DESIGN.md, "Demo city")."""
