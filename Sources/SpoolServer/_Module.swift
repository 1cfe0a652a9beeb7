// SpoolServer
