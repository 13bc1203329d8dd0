;;; dals-conversation.el --- Follow up, steer, and read a DALS task  -*- lexical-binding: t; -*-

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `dals-follow-up' gives a finished task its next turn (on its whole
;; conversation), `dals-steer' tells a running or waiting task something
;; it gets with its next model request (`dals-message-task', `m' in the
;; tasks buffer, does either for the task at point), and `dals-transcript' shows the
;; task as Markdown rendered by the server, in a buffer that updates as
;; the task's events come (`markdown-mode' when installed).  Each is one
;; `dals.*' command of the server.  Loaded on first use from dals.el.

;;; Code:

(require 'dals)
(require 'dals-tasks)

(defvar-local dals--transcript-task nil "The task whose transcript this buffer shows.")
(defvar-local dals--transcript-live nil
  "(SEQ . TEXT): the model's text in flight, shown under the transcript until event SEQ comes.")

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

;;;###autoload
(defun dals-message-task (task-id text)
  "Follow up the DALS task TASK-ID with TEXT once it has finished, else steer it.
In the tasks buffer (\\<dals-tasks-mode-map>\\[dals-message-task]), the task at point."
  (interactive
   (let* ((id (dals--read-task-id "Message DALS task: " nil))
          (finished (dals--finished-p id)))
     (list id (read-string (format (if finished "Follow-up for %s: " "Message for %s (steer): ") id)))))
  (if (dals--finished-p task-id)
      (dals-follow-up task-id text)
    (dals-steer task-id text)))

(defun dals--finished-p (task-id)
  "Whether the task TASK-ID has ended (as last seen): the next message is a follow-up."
  (member (plist-get (gethash task-id dals--tasks) :status) dals--final-statuses))

(defun dals--transcript-buffer-name (task-id)
  (format "*DALS transcript %s*" task-id))

(defvar-local dals--transcript-markdown "" "The server's latest transcript in this buffer.")

(defun dals--transcript-render (buffer)
  "Show BUFFER's transcript, then the live text if any, keeping point where it was."
  (with-current-buffer buffer
    (let ((inhibit-read-only t) (pos (point)))
      (erase-buffer)
      (insert dals--transcript-markdown)
      (when dals--transcript-live
        (insert "\n## Agent (writing…)\n\n" (cdr dals--transcript-live) "\n"))
      (goto-char (min pos (point-max))))))

(defun dals--transcript-fill (buffer markdown)
  "Put MARKDOWN, the server's transcript, in BUFFER."
  (when (and markdown (buffer-live-p buffer))
    (with-current-buffer buffer
      (setq dals--transcript-markdown markdown))
    (dals--transcript-render buffer)))

(defun dals--transcript-on-delta (_server delta)
  "Append DELTA's text to the live text of its task's transcript buffer, if one is shown."
  (let ((buffer (get-buffer (dals--transcript-buffer-name (plist-get delta :taskId))))
        (seq (plist-get delta :seq)))
    (when buffer
      (with-current-buffer buffer
        (unless (equal (car dals--transcript-live) seq)
          (setq dals--transcript-live (cons seq "")))
        (setcdr dals--transcript-live (concat (cdr dals--transcript-live) (plist-get delta :text))))
      (dals--transcript-render buffer))))

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
      (with-current-buffer buffer
        (when (and dals--transcript-live (>= (plist-get event :seq) (car dals--transcript-live)))
          (setq dals--transcript-live nil)))
      (dals--command-async server "dals.transcript" (list :taskId (plist-get event :taskId))
                           (lambda (result)
                             (dals--transcript-fill buffer (plist-get result :markdown)))))))

(add-hook 'dals-task-event-functions #'dals--transcript-on-event)
(add-hook 'dals-task-delta-functions #'dals--transcript-on-delta)

(provide 'dals-conversation)
;;; dals-conversation.el ends here
