"""What runs the assistant.

The launcher of the two servers, the response generator Rasa loads (endpoints.yml), and the fix
applied to Rasa's command line before it starts.
"""
