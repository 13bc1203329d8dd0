;;; dals-conversation.el --- Follow up, steer, and read a DALS task  -*- lexical-binding: t; -*-

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `dals-follow-up' gives a finished task its next turn (on its whole
;; conversation), `dals-steer' tells a running or waiting task something
;; it gets with its next model request, and `dals-transcript' shows the
;; task as Markdown rendered by the server, in a buffer that updates as
;; the task's events come (`markdown-mode' when installed).  Each is one
;; `dals.*' command of the server.  Loaded on first use from dals.el.

;;; Code:

(require 'dals)
(require 'dals-tasks)

(defvar-local dals--transcript-task nil "The task whose transcript this buffer shows.")

;;;###autoload
(defun dals-follow-up (task-id prompt)
  "Give the finished DALS task TASK-ID a new turn with PROMPT.
The model gets the task's whole conversation so far; the task keeps its id."
  (interactive
   (let ((id (dals--read-task-id "Follow up DALS task: " '("succeeded" "failed" "cancelled"))))
     (list id (read-string (format "Follow-up for %s: " id)))))
  (when (string-empty-p (string-trim prompt)) (user-error "Empty prompt"))
  (let ((result (dals--command (dals--server) "dals.followUp" (list :taskId task-id :prompt prompt))))
    (message "DALS task %s: turn %s started" task-id (plist-get result :turn))
    result))

;;;###autoload
(defun dals-steer (task-id text)
  "Tell the running or waiting DALS task TASK-ID the message TEXT.
It reaches the model with the task's next request."
  (interactive
   (let ((id (dals--read-task-id "Steer DALS task: " '("running" "waiting" "retrying" "paused" "queued"))))
     (list id (read-string (format "Message for %s: " id)))))
  (when (string-empty-p (string-trim text)) (user-error "Empty message"))
  (let ((result (dals--command (dals--server) "dals.steer" (list :taskId task-id :message text))))
    (message "DALS task %s: message queued" task-id)
    result))

(defun dals--transcript-buffer-name (task-id)
  (format "*DALS transcript %s*" task-id))

(defun dals--transcript-fill (buffer markdown)
  "Put MARKDOWN in BUFFER, keeping point where it was."
  (when (and markdown (buffer-live-p buffer))
    (with-current-buffer buffer
      (let ((inhibit-read-only t) (pos (point)))
        (erase-buffer)
        (insert markdown)
        (goto-char (min pos (point-max)))))))

;;;###autoload
(defun dals-transcript (task-id)
  "Show the DALS task TASK-ID as a Markdown transcript.  Return the buffer."
  (interactive (list (dals--read-task-id "Transcript of DALS task: ")))
  (let* ((server (dals--server))
         (result (dals--command server "dals.transcript" (list :taskId task-id)))
         (buffer (get-buffer-create (dals--transcript-buffer-name task-id))))
    (with-current-buffer buffer
      (if (fboundp 'markdown-mode) (markdown-mode) (text-mode))
      (setq dals--transcript-task task-id
            dals--buffer-server server
            buffer-read-only t))
    (dals--transcript-fill buffer (plist-get result :markdown))
    (pop-to-buffer buffer)
    buffer))

(defun dals--transcript-on-event (server event)
  "Fetch the transcript again when EVENT is for a task whose transcript is shown."
  (let ((buffer (get-buffer (dals--transcript-buffer-name (plist-get event :taskId)))))
    (when buffer
      (dals--command-async server "dals.transcript" (list :taskId (plist-get event :taskId))
                           (lambda (result)
                             (dals--transcript-fill buffer (plist-get result :markdown)))))))

(add-hook 'dals-task-event-functions #'dals--transcript-on-event)

(provide 'dals-conversation)
;;; dals-conversation.el ends here
