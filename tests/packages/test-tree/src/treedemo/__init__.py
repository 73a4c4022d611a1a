"""The package the wheel installs."""

WHERE = "wheel"
