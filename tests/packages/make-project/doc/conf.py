project = "greeter"
