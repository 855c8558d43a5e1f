"""A self-hosted Amazon Lookout for Vision API (2020-11-20, REST-JSON) over this project's parts.

The HTTP routes, shapes and rules come from AWS's own service model shipped in `data/`, read at run
time, so every operation gets the same routing, validation and error format. State lives in one
SQLite file shared with the packaging jobs; objects live in S3 or in a local folder laid out like S3.
"""
