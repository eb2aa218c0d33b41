"""AI auto-replies for trained WhatsApp campaigns.

An inbound WhatsApp reply recorded against a delivery of a trained campaign (campaigns.engine.status
calls `inbound_replies_queue`) becomes a pending AutoReply row in the webhook's transaction; a
task then decides (answer.reply_decide: handover, trigger or AI) and sends the answer as a
session message inside WhatsApp's 24-hour window (services.auto_reply_handle).
"""
